// uPlot draws on a canvas, which jsdom lacks: component tests use this stand-in, which records data.
import { vi } from 'vitest';

export const plots: Array<{ opts: { series: Array<{ label?: string }> }; data: unknown[][]; destroyed: boolean }> = [];

vi.mock('uplot', () => ({
  default: class {
    opts: { series: Array<{ label?: string }> };
    data: unknown[][];
    destroyed = false;
    constructor(opts: { series: Array<{ label?: string }> }, data: unknown[][]) {
      this.opts = opts;
      this.data = data;
      plots.push(this);
    }
    setData(d: unknown[][]) {
      this.data = d;
    }
    setSize() {}
    destroy() {
      this.destroyed = true;
    }
  },
}));

// Unmount components between tests.
import { afterEach } from 'vitest';
import { cleanup } from '@testing-library/svelte';
afterEach(() => cleanup());
