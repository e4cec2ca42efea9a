// Loaded into `charmer serve` by test/server/hostile.test.ts (NODE_OPTIONS=--import): on SIGUSR2 an
// error is thrown outside any request, and a promise is rejected with nobody listening, standing in
// for a defect no client input can reach any more.
process.on('SIGUSR2', () => {
  setImmediate(() => {
    throw new Error('injected defect');
  });
  void Promise.reject(new Error('injected rejection'));
});
