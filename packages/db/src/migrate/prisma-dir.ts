import { fileURLToPath } from 'node:url';

/**
 * The repository's prisma/ folder (schema.prisma and migrations/), from this file's place in the workspace
 * (src/migrate or dist/migrate); PRISMA_DIR overrides it where the layout differs, as in a deployed image.
 */
export function defaultPrismaDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.PRISMA_DIR || fileURLToPath(new URL('../../../../prisma/', import.meta.url));
}
