import type { DeploymentRow } from '@ephemera/db';
import type { DeploymentResponse } from '@ephemera/schema';

export function deploymentJson(r: DeploymentRow): DeploymentResponse {
  return {
    id: r.id,
    environment_id: r.environment_id,
    commit_sha: r.commit_sha,
    commit_message: r.commit_message,
    status: r.status as DeploymentResponse['status'],
    started_at: r.started_at,
    completed_at: r.completed_at,
    error_message: r.error_message,
    ...(r.logs !== undefined ? { logs: r.logs } : {}),
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}
