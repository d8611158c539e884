#!/usr/bin/env node
// @ts-check
// `npm start` and `npm test` land here. Plain Node and no dependencies: this runs before anything is installed.
import { SetupError, red, say } from '../lib/log.mjs';

const [command = 'help', ...args] = process.argv.slice(2);

const major = Number(process.versions.node.split('.')[0]);
if (major < 20) {
  say(red(`Node ${process.versions.node} is too old: Ephemera needs Node 20 or newer.`));
  process.exit(1);
}

try {
  let code = 0;
  if (command === 'test') {
    const { testCommand } = await import('../lib/test-command.mjs');
    code = await testCommand(args);
  } else if (command === 'start') {
    const { startCommand } = await import('../lib/start-command.mjs');
    code = await startCommand(args);
  } else {
    process.stderr.write('usage: ephemera <start|test> [args]\n');
    code = command === 'help' ? 0 : 2;
  }
  process.exit(code);
} catch (err) {
  if (err instanceof SetupError) say(red(err.message));
  else say(red(err instanceof Error ? (err.stack ?? err.message) : String(err)));
  process.exit(1);
}
