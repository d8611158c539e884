import preset from '@ephemera/toolchain/jest-preset';

export default { ...preset };
