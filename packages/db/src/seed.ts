import { createPrismaClient } from './client.js';
import { createDeployment, getLatestDeployment } from './deployments.js';
import { createEnvironment } from './environments.js';
import { getEnvironmentByPr } from './pull-requests.js';
import { getOrCreateUser } from './users.js';

// The design's integration script: one user, one environment, one deployment. Running it again finds what the
// first run made and changes nothing.

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  process.stderr.write('DATABASE_URL is not set: point it at the PostgreSQL database to seed.\n');
  process.exit(2);
}
const db = createPrismaClient({ databaseUrl, poolSize: 2 });
const say = (line: string) => process.stdout.write(`${line}\n`);

try {
  const user = await getOrCreateUser(db, {
    githubId: 12345,
    githubLogin: 'testuser',
    email: 'testuser@example.com',
    avatarUrl: 'https://avatars.githubusercontent.com/u/12345',
  });
  say(`user        id=${user.id} github_login=${user.githubLogin}`);
  const environment =
    (await getEnvironmentByPr(db, { repositoryId: 1296269, repositoryFullName: 'testuser/testrepo', prNumber: 123 })) ??
    (await createEnvironment(db, {
      repositoryId: 1296269,
      repositoryFullName: 'testuser/testrepo',
      prNumber: 123,
      prTitle: 'Add preview environments',
      branchName: 'feature/preview',
      commitSha: 'a'.repeat(40),
      installationId: 1,
      ownerId: user.id,
      previewBaseDomain: process.env.PREVIEW_BASE_DOMAIN || 'preview.localhost',
    }));
  say(`environment id=${environment.id} namespace=${environment.namespace} status=${environment.status}`);
  const deployment =
    (await getLatestDeployment(db, environment.id)) ??
    (await createDeployment(db, {
      environmentId: environment.id,
      commitSha: environment.commitSha,
      commitMessage: 'Initial commit',
    }));
  say(`deployment  id=${deployment.id} commit_sha=${deployment.commitSha.slice(0, 7)} status=${deployment.status}`);
} catch (err) {
  process.stderr.write(`seed failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await db.$disconnect();
}
