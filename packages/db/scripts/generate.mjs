// Runs `prisma generate` for prisma/schema.prisma, offline.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const schema = fileURLToPath(new URL('../../../prisma/schema.prisma', import.meta.url));
// `prisma generate` needs no schema engine, yet the CLI downloads one unless PRISMA_SCHEMA_ENGINE_BINARY names an
// existing executable; this stub satisfies the check and explains itself should anything ever run it.
const engineStub = fileURLToPath(new URL('./schema-engine-unavailable', import.meta.url));
const result = spawnSync('prisma', ['generate', '--schema', schema], {
  stdio: 'inherit',
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || engineStub,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  },
  shell: false,
});
process.exit(result.status ?? 1);
