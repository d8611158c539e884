export { default } from '@ephemera/toolchain/eslint';
