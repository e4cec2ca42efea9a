/**
 * The per-sequence gate kernels of the fused recurrent layer (./sequence.ts): one forward and one
 * backward kernel a time step for LSTM, GRU (two halves each way) and the vanilla RNN. Each fills
 * row t of the [B*T, ...] buffers it is given (allocated uninitialised by CharmerAlloc), so a
 * sequence needs no copy and no final stack. Registered with the other fused kernels by ./kernels.ts.
 */
import * as M from './math.ts';
import { at, type Def } from './kernel-def.ts';

export const sequenceDefs: Def[] = [
  {
    // xp, hr, bias, cPrev, gates, cs, tcs, out -> h, c
    name: 'CharmerLstmFwd',
    outShapes: (ins) => [ins[3]!, ins[3]!],
    run: ([xp, hr, bias, cPrev, gates, cs, tcs, out], [h, c], a) => {
      const H = a.H!;
      M.lstmFwd(cPrev!.length / H, a.T!, H, a.t!, xp!, hr!, bias!, cPrev!, gates!, cs!, tcs!, out!, h!, c!);
    },
    simd: (k, [xp, hr, bias, cPrev, gates, cs, tcs, out], [h, c], a) => {
      const { H, T, t } = a as { H: number; T: number; t: number };
      const B = cPrev!.length / H;
      const pb = bias!.byteOffset;
      for (let b = 0; b < B; b++) {
        const r = b * T + t;
        k.lstmFwd(
          at(xp!, r * 4 * H),
          at(hr!, b * 4 * H),
          pb,
          at(cPrev!, b * H),
          at(gates!, r * 4 * H),
          at(cs!, r * H),
          at(tcs!, r * H),
          at(out!, r * H),
          at(h!, b * H),
          at(c!, b * H),
          H,
        );
      }
    },
  },
  {
    // dy, dhr, dc, gates, cs, tcs, c0, dz -> dzt, dcPrev
    name: 'CharmerLstmBwd',
    outShapes: (ins) => [[ins[1]![0]!, 4 * ins[1]![1]!], ins[1]!],
    run: ([dy, dhr, dc, gates, cs, tcs, c0, dz], [dzt, dcPrev], a) => {
      const H = a.H!;
      M.lstmBwd(dhr!.length / H, a.T!, a.Tv!, H, a.t!, dy!, dhr!, dc!, gates!, cs!, tcs!, c0!, dz!, dzt!, dcPrev!);
    },
    simd: (k, [dy, dhr, dc, gates, cs, tcs, c0, dz], [dzt, dcPrev], a) => {
      const { H, T, Tv, t } = a as { H: number; T: number; Tv: number; t: number };
      const B = dhr!.length / H;
      for (let b = 0; b < B; b++) {
        const r = b * T + t;
        const cp = t > 0 ? at(cs!, (r - 1) * H) : at(c0!, b * H);
        k.lstmBwd(
          at(dy!, (b * Tv + t) * H),
          at(dhr!, b * H),
          at(dc!, b * H),
          at(gates!, r * 4 * H),
          at(tcs!, r * H),
          cp,
          at(dz!, r * 4 * H),
          at(dzt!, b * 4 * H),
          at(dcPrev!, b * H),
          H,
        );
      }
    },
  },
  {
    // xp, hzr, bias, hPrev, gates, rhs -> rh
    name: 'CharmerGruFwdA',
    outShapes: (ins) => [ins[3]!],
    run: ([xp, hzr, bias, hPrev, gates, rhs], [rh], a) => {
      const H = a.H!;
      M.gruFwdA(hPrev!.length / H, a.T!, H, a.t!, xp!, hzr!, bias!, hPrev!, gates!, rhs!, rh!);
    },
    simd: (k, [xp, hzr, bias, hPrev, gates, rhs], [rh], a) => {
      const { H, T, t } = a as { H: number; T: number; t: number };
      const B = hPrev!.length / H;
      for (let b = 0; b < B; b++) {
        const r = b * T + t;
        k.gruFwdA(at(xp!, r * 3 * H), at(hzr!, b * 2 * H), bias!.byteOffset, at(hPrev!, b * H), at(gates!, r * 3 * H), at(rhs!, r * H), at(rh!, b * H), H);
      }
    },
  },
  {
    // xp, hhr, bias, hPrev, gates, out -> h
    name: 'CharmerGruFwdB',
    outShapes: (ins) => [ins[3]!],
    run: ([xp, hhr, bias, hPrev, gates, out], [h], a) => {
      const H = a.H!;
      M.gruFwdB(hPrev!.length / H, a.T!, H, a.t!, xp!, hhr!, bias!, hPrev!, gates!, out!, h!);
    },
    simd: (k, [xp, hhr, bias, hPrev, gates, out], [h], a) => {
      const { H, T, t } = a as { H: number; T: number; t: number };
      const B = hPrev!.length / H;
      for (let b = 0; b < B; b++) {
        const r = b * T + t;
        k.gruFwdB(at(xp!, r * 3 * H), at(hhr!, b * H), bias!.byteOffset, at(hPrev!, b * H), at(gates!, r * 3 * H), at(out!, r * H), at(h!, b * H), H);
      }
    },
  },
  {
    // dy, carryD, carryM, gates, out, h0, dz -> dzh, dhTot
    name: 'CharmerGruBwdA',
    outShapes: (ins) => [ins[1]!, ins[1]!],
    run: ([dy, carryD, carryM, gates, out, h0, dz], [dzh, dhTot], a) => {
      const H = a.H!;
      M.gruBwdA(carryD!.length / H, a.T!, H, a.t!, dy!, carryD!, carryM!, gates!, out!, h0!, dz!, dzh!, dhTot!);
    },
    simd: (k, [dy, carryD, carryM, gates, out, h0, dz], [dzh, dhTot], a) => {
      const { H, T, t } = a as { H: number; T: number; t: number };
      const B = carryD!.length / H;
      for (let b = 0; b < B; b++) {
        const r = b * T + t;
        const hp = t > 0 ? at(out!, (r - 1) * H) : at(h0!, b * H);
        k.gruBwdA(at(dy!, r * H), at(carryD!, b * H), at(carryM!, b * H), at(gates!, r * 3 * H), hp, at(dz!, r * 3 * H), at(dzh!, b * H), at(dhTot!, b * H), H);
      }
    },
  },
  {
    // drh, dhTot, gates, out, h0, dz -> dzzr, carryD
    name: 'CharmerGruBwdB',
    outShapes: (ins) => [[ins[0]![0]!, 2 * ins[0]![1]!], ins[0]!],
    run: ([drh, dhTot, gates, out, h0, dz], [dzzr, carryD], a) => {
      const H = a.H!;
      M.gruBwdB(drh!.length / H, a.T!, H, a.t!, drh!, dhTot!, gates!, out!, h0!, dz!, dzzr!, carryD!);
    },
    simd: (k, [drh, dhTot, gates, out, h0, dz], [dzzr, carryD], a) => {
      const { H, T, t } = a as { H: number; T: number; t: number };
      const B = drh!.length / H;
      for (let b = 0; b < B; b++) {
        const r = b * T + t;
        const hp = t > 0 ? at(out!, (r - 1) * H) : at(h0!, b * H);
        k.gruBwdB(at(drh!, b * H), at(dhTot!, b * H), at(gates!, r * 3 * H), hp, at(dz!, r * 3 * H), at(dzzr!, b * 2 * H), at(carryD!, b * H), H);
      }
    },
  },
  {
    // xp, hr, bias, out -> h
    name: 'CharmerRnnFwd',
    outShapes: (ins) => [ins[1]!],
    run: ([xp, hr, bias, out], [h], a) => {
      const H = a.H!;
      M.rnnFwd(hr!.length / H, a.T!, H, a.t!, xp!, hr!, bias!, out!, h!);
    },
    simd: (k, [xp, hr, bias, out], [h], a) => {
      const { H, T, t } = a as { H: number; T: number; t: number };
      const B = hr!.length / H;
      for (let b = 0; b < B; b++) {
        const r = b * T + t;
        k.rnnFwd(at(xp!, r * H), at(hr!, b * H), bias!.byteOffset, at(out!, r * H), at(h!, b * H), H);
      }
    },
  },
  {
    // dy, dhr, out, dz -> dzt
    name: 'CharmerRnnBwd',
    outShapes: (ins) => [ins[1]!],
    run: ([dy, dhr, out, dz], [dzt], a) => {
      const H = a.H!;
      M.rnnBwd(dhr!.length / H, a.T!, H, a.t!, dy!, dhr!, out!, dz!, dzt!);
    },
    simd: (k, [dy, dhr, out, dz], [dzt], a) => {
      const { H, T, t } = a as { H: number; T: number; t: number };
      const B = dhr!.length / H;
      for (let b = 0; b < B; b++) {
        const r = b * T + t;
        k.rnnBwd(at(dy!, r * H), at(dhr!, b * H), at(out!, r * H), at(dz!, r * H), at(dzt!, b * H), H);
      }
    },
  },
];
