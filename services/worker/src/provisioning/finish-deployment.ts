import { appendDeploymentLogs, moveDeployment, type Environment, type PrismaClient } from '@ephemera/db';

/**
 * Ends a running deployment, with its last log lines, and moves the environment with it (READY, or FAILED with the
 * reason) unless the deployment was superseded or the environment left PROVISIONING / UPDATING meanwhile: one
 * statement that takes the pull request's lock itself. False when the deployment was no longer running.
 */
export async function finishDeployment(
  db: PrismaClient,
  env: Environment,
  deploymentId: number,
  end: { to: 'SUCCESS' | 'FAILED'; errorMessage?: string; url?: string | null | undefined; logs: string; logMaxBytes: number | undefined; keepReady?: boolean; afterCreateRan?: boolean },
): Promise<boolean> {
  const moved = await moveDeployment(db, {
      lock: true,
      // Lost to a database crash, the deployment stays IN_PROGRESS and the stuck sweep deploys it again.
      asyncCommit: true,
      deploymentId,
      from: ['IN_PROGRESS'],
      to: end.to,
      errorMessage: end.errorMessage ?? null,
      appendLogs: end.logs,
      ...(end.logMaxBytes !== undefined ? { maxLogBytes: end.logMaxBytes } : {}),
      environment: {
        id: env.id,
        from: ['PROVISIONING', 'UPDATING'],
        to: end.to === 'SUCCESS' || end.keepReady ? 'READY' : 'FAILED',
        change:
          end.to === 'SUCCESS'
            ? { ...(end.url ? { environmentUrl: end.url } : {}), ...(end.afterCreateRan ? { afterCreateSucceededAt: new Date() } : {}) }
            : end.keepReady
              ? {}
              : { errorMessage: end.errorMessage ?? null },
      },
    });
  // Superseded meanwhile: its lines are still kept.
  if (!moved.deployment && end.logs) await appendDeploymentLogs(db, deploymentId, end.logs, end.logMaxBytes);
  return moved.deployment;
}
