import { randomUUID } from 'node:crypto';
import type { FakeGithub } from '../fake-github.js';
import { fileKey, roleKey, type FakeGithubState } from './fake-github-state.js';
import { attemptDelivery } from './webhook-deliveries.js';

/** What tests set and read on the fake GitHub: every member of {@link FakeGithub} but its URL and `close`. */
export function testControls(state: FakeGithubState): Omit<FakeGithub, 'url' | 'close'> {
  return {
    apps: state.manifests.apps,
    requests: state.requests,
    failNext(pattern, status, count = 1) {
      state.failures.push({ pattern, status, count });
    },
    setFile(repository, ref, path, text) {
      if (text === null) state.files.delete(fileKey(repository, ref, path));
      else state.files.set(fileKey(repository, ref, path), text);
    },
    setPermission(repository, login, role) {
      state.permissions.set(roleKey(repository, login), role);
    },
    setInstallation(id, installationState, account) {
      state.installations.set(id, installationState);
      if (account) state.installationAccounts.set(id, { login: account.login, type: account.type ?? 'Organization' });
    },
    setInstallationRepositories(id, fullNames) {
      state.installationRepos.set(id, [...fullNames]);
    },
    rateLimitNext(match, kind, waitSeconds) {
      state.rateLimits.push({ ...match, kind, wait: waitSeconds, until: null });
    },
    setWebhook(url, secret) {
      state.webhook = { url, secret };
    },
    deliver(event, payload, options = {}) {
      return attemptDelivery(state, event, payload, options.guid ?? randomUUID(), false, options.lost ?? false);
    },
    deliveries: state.deliveries,
    advanceClock(ms) {
      state.clockOffset += ms;
    },
    setPullRequest(repository, pullRequest) {
      const key = repository.toLowerCase();
      if (!state.pulls.has(key)) state.pulls.set(key, new Map());
      state.pulls.get(key)!.set(Number(pullRequest.number), structuredClone(pullRequest));
    },
    setOAuthApp(app) {
      state.oauth.setApp(app);
    },
    setOAuthUser(login, profile = {}) {
      state.oauth.setSignedIn(login);
      if (login === null) return;
      const user = state.knowUser(login);
      if (profile.name !== undefined) user.name = profile.name;
      if (profile.email !== undefined) user.email = profile.email;
    },
    setUserAccess(login, access) {
      state.knowUser(login);
      const suffix = `:${login.toLowerCase()}`;
      for (const key of [...state.permissions.keys()]) if (key.endsWith(suffix)) state.permissions.delete(key);
      for (const [repository, role] of Object.entries(access.repositories ?? {})) state.permissions.set(roleKey(repository, login), role);
      state.userInstallations.set(login.toLowerCase(), [...(access.installations ?? [])]);
    },
    addCheckRun(repository, sha, run) {
      return state.checks.addCheckRun(repository, sha, run);
    },
    updateCheckRun(id, change) {
      state.checks.updateCheckRun(id, change);
    },
    addCommitStatus(repository, sha, status) {
      state.checks.addStatus(repository, sha, status);
    },
    commentsOf(repository, issueNumber) {
      return [...state.comments.entries()]
        .filter(([, c]) => c.repository === repository.toLowerCase() && c.issue === issueNumber)
        .map(([id, c]) => ({ id, body: c.body }));
    },
  };
}
