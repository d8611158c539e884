import type { DeploymentRow, EnvironmentRow } from '@ephemera/db';
import type { DeploymentResponse, EnvironmentResponse } from '@ephemera/schema';

export function environmentJson(r: EnvironmentRow): EnvironmentResponse {
  return {
    id: r.id,
    repository_full_name: r.repository_full_name,
    repository_name: r.repository_name,
    pr_number: r.pr_number,
    pr_title: r.pr_title,
    branch_name: r.branch_name,
    commit_sha: r.commit_sha,
    namespace: r.namespace,
    environment_url: r.environment_url,
    status: r.status as EnvironmentResponse['status'],
    installation_id: Number(r.installation_id),
    owner_id: r.owner_id,
    owner: r.owner,
    error_message: r.error_message,
    last_deployed_at: r.last_deployed_at,
    created_at: r.created_at,
    updated_at: r.updated_at,
    destroyed_at: r.destroyed_at,
  };
}

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
