// @ts-check
const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (text) => (useColor ? `\u001b[${code}m${text}\u001b[0m` : text);
export const bold = paint('1');
export const dim = paint('2');
export const red = paint('31');
export const green = paint('32');
export const yellow = paint('33');
export const cyan = paint('36');

/** One line on stderr, prefixed so it is clear which tool speaks. */
export function say(message) {
  process.stderr.write(`${cyan('ephemera')} ${message}\n`);
}

export class SetupError extends Error {
  name = 'SetupError';
}
