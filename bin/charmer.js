#!/usr/bin/env node
// The `charmer` command. The TypeScript sources run through tsx's loader, so the command line,
// browser mode and the training worker need no build step (the Electron app is built by electron-vite).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
