import type { Environment, ReportedDeployment } from '@ephemera/db';
import { approvalWays, type PreviewSettings } from '../pull-request-reconciler.js';
import { MARKER } from './pull-request-comment.js';

/** The approval label and FORK_APPROVAL: the comment names what approved a fork's commit. */
export type ApprovalSettings = Pick<PreviewSettings, 'approveLabel' | 'forkApproval'>;

/** ``Waiting for `build`, `docker / push` on `abc1234` ``: what a deployment's gate waits for. */
export function waitingText(dep: Pick<ReportedDeployment, 'gateWaitingFor' | 'commitSha'>): string {
  return `Waiting for ${dep.gateWaitingFor ?? 'checks'} on \`${dep.commitSha.slice(0, 7)}\``;
}

const STATUS_TEXT: Record<string, string> = {
  PENDING: '⏳ Pending',
  PROVISIONING: '🔧 Provisioning',
  READY: '✅ Ready',
  UPDATING: '🔄 Updating',
  DESTROYING: '🧹 Being removed',
  DESTROYED: '🗑️ Removed',
  FAILED: '❌ Failed',
};

export type ApprovalState = { approvedSha: string | null; approvedBy: string | null; reviewApprovedSha: string | null; reviewApprovedBy: string | null } | null;

/**
 * What approved the fork's code the preview runs (or is deploying), one line each: the commit the approval label
 * approved (the head when it landed) and the commit an approving review was made on, with who approved it, as
 * FORK_APPROVAL counts them. An approval of another commit (one a maintainer's push has since built on) is not shown.
 */
export function approvalsOf(state: ApprovalState, settings: ApprovalSettings | undefined, commits: Array<string | null>): string[] {
  if (!state) return [];
  const ways = approvalWays(settings ?? {});
  const by = (login: string | null) => (login ? ` by @${login}` : '');
  const lines: string[] = [];
  if (ways.label && state.approvedSha && commits.includes(state.approvedSha)) {
    lines.push(`\`${state.approvedSha.slice(0, 7)}\`${by(state.approvedBy)} (the \`${settings?.approveLabel ?? 'approval'}\` label)`);
  }
  if (ways.review && state.reviewApprovedSha && commits.includes(state.reviewApprovedSha)) {
    lines.push(`\`${state.reviewApprovedSha.slice(0, 7)}\`${by(state.reviewApprovedBy)} (a review of that commit)`);
  }
  return lines;
}

/** The one comment per pull request: status, URL, commit, last deployment, and the environment's page when PUBLIC_URL is set. */
export function renderComment(
  env: Environment | null,
  latest: Pick<ReportedDeployment, 'id' | 'status' | 'commitSha' | 'errorMessage' | 'gateWaitingFor'> | null,
  heldSha: string | null,
  note: string | null,
  publicUrl?: string,
  servingSha: string | null = null,
  approvals: string[] = [],
): string {
  const lines = [MARKER, '### Ephemera preview', ''];
  if (!env) {
    lines.push(`**Status:** ⏸️ Waiting for approval${heldSha ? ` of \`${heldSha.slice(0, 7)}\`` : ''}`);
  } else {
    const waiting = env.status === 'PENDING' && env.waitingSince !== null;
    lines.push(`**Status:** ${waiting ? '⏳ Waiting for a place (this repository has as many previews as the installation allows)' : (STATUS_TEXT[env.status] ?? env.status)}`);
    if (env.environmentUrl && env.status !== 'DESTROYED') lines.push(`**URL:** ${env.environmentUrl}`);
    // A running preview serves its last successful deployment's commit, which a newer one waiting or refused is not.
    const shown = env.status === 'READY' && servingSha ? servingSha : env.commitSha;
    lines.push(`**Commit:** \`${shown.slice(0, 7)}\``);
    // A fork's code runs with a maintainer's approval: the comment names the commit approved, and how.
    for (const approval of approvals) lines.push(`**Approved:** ${approval}`);
    lines.push(`**Namespace:** \`${env.namespace}\``);
    if (env.lastDeployedAt) lines.push(`**Last deployed:** ${env.lastDeployedAt.toISOString()}`);
    if (latest) lines.push(`**Latest deployment:** #${latest.id} (${latest.status.toLowerCase()}, \`${latest.commitSha.slice(0, 7)}\`)`);
    if (publicUrl) lines.push(`**Environment page:** ${publicUrl.replace(/\/+$/, '')}/environments/${env.id}`);
    if (latest?.status === 'WAITING') lines.push('', `⏳ ${waitingText(latest)}`);
    if (env.status === 'FAILED' && env.errorMessage) lines.push('', fenced(env.errorMessage));
    // Logs stay behind the dashboard's access rules: the comment links to them, it never quotes them.
    if (publicUrl && latest?.status === 'FAILED' && (env.status === 'FAILED' || env.status === 'READY')) {
      lines.push(`**Deployment logs:** ${publicUrl.replace(/\/+$/, '')}/environments/${env.id}/deployments/${latest.id}`);
    }
    const refused = env.status === 'READY' && latest?.status === 'FAILED' && !(latest.errorMessage ?? '').startsWith('superseded');
    if (refused) {
      lines.push('', `⚠️ The latest commit \`${latest.commitSha.slice(0, 7)}\` was not deployed; the preview still serves \`${shown.slice(0, 7)}\`:`, fenced(latest.errorMessage ?? 'deployment failed'));
    }
    if (heldSha) lines.push('', `⏸️ \`${heldSha.slice(0, 7)}\` waits for approval.`);
  }
  if (note) lines.push('', note);
  return lines.join('\n');
}

/** Text shown as it is (error messages carry log lines and YAML): fenced longer than any backtick run inside. */
function fenced(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}
