#!/usr/bin/env node
// `pnpm demo`: replays a pull request's life against a running stack (`npm start`), from GitHub's own example
// payloads, signed: opened and two pushes, leaving the preview running to look at (and act on) in the dashboard;
// `pnpm demo --close` closes the pull request too. After each step it waits for the worker and prints the
// environment and its deployments as the API shows them.
import { randomUUID } from 'node:crypto';
import { pullRequestExample, sendSigned } from '../lib/deliver.mjs';

const ingest = process.env.INGEST_URL ?? `http://localhost:${process.env.INGEST_PORT ?? 3001}`;
const query = process.env.QUERY_URL ?? `http://localhost:${process.env.QUERY_PORT ?? 3002}`;
const secret = (process.env.GITHUB_WEBHOOK_SECRET ?? 'ephemera-development-secret').split(',')[0].trim();
// The stack of `npm start` serves the API open unless API_TOKENS is set; then API_TOKEN (or the first of
// API_TOKENS, when this shell has them) is sent.
const token = process.env.API_TOKEN?.trim() || process.env.API_TOKENS?.split(',').map((t) => t.trim()).find(Boolean);
const headers = token ? { authorization: `Bearer ${token}` } : {};


const number = 1000 + Math.floor(Math.random() * 9000); // a PR of its own, so the demo can run again
const repo = 'demo-org/demo-app';
const sha = () => randomUUID().replace(/-/g, '').padEnd(40, '0').slice(0, 40);
let clock = Date.now();

async function send(action, headSha) {
  const p = pullRequestExample(action);
  p.pull_request.number = number;
  p.pull_request.head.sha = headSha;
  p.pull_request.title = `Demo pull request #${number}`;
  p.pull_request.updated_at = new Date((clock += 2000)).toISOString().replace(/\.\d+Z$/, 'Z');
  p.repository.full_name = repo;
  p.repository.name = 'demo-app';
  p.repository.owner.login = 'demo-org';
  p.pull_request.base.repo.full_name = repo;
  p.pull_request.head.repo.full_name = repo;
  const res = await sendSigned(ingest, secret, 'pull_request', p);
  const answer = await res.json();
  console.log(`\n▶ pull_request.${action} (${headSha.slice(0, 7)}) → ${res.status} ${answer.status ?? answer.message}`);
  if (!res.ok) process.exit(1);
}

async function environment() {
  const res = await fetch(`${query}/api/v1/environments?repository=${repo}&pr_number=${number}`, { headers });
  if (res.status === 401 || res.status === 403) throw new Error(`query API answered ${res.status}: set API_TOKEN to one of the stack's API_TOKENS`);
  if (!res.ok) throw new Error(`query API answered ${res.status}`);
  return (await res.json())[0];
}

/** Polls until the environment reaches one of the statuses, printing each status it passes through. */
async function waitFor(statuses, commitSha) {
  const seen = [];
  const deadline = Date.now() + 60_000;
  for (;;) {
    const env = await environment();
    if (env && seen.at(-1) !== env.status) {
      seen.push(env.status);
      console.log(`  status ${env.status}`);
    }
    if (env && statuses.includes(env.status) && (!commitSha || (env.commit_sha === commitSha && (await deployed(env, commitSha))))) {
      return env;
    }
    if (Date.now() > deadline) throw new Error(`environment did not reach ${statuses.join('/')} within 60 s`);
    // Fast enough to see PENDING, which lasts only until a worker picks the deployment up.
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The newest deployment is this commit's, and it has finished. */
async function deployed(env, commitSha) {
  const [latest] = await (await fetch(`${query}/api/v1/environments/${env.id}/deployments?limit=1`, { headers })).json();
  return latest?.commit_sha === commitSha && (latest.status === 'SUCCESS' || latest.status === 'FAILED');
}

async function show(env) {
  const deployments = await (await fetch(`${query}/api/v1/environments/${env.id}/deployments`, { headers })).json();
  console.log(`  environment #${env.id} ${env.namespace} ${env.status} commit ${env.commit_sha.slice(0, 7)} url ${env.environment_url}`);
  for (const d of deployments) console.log(`    deployment #${d.id} ${d.commit_sha.slice(0, 7)} ${d.status}${d.error_message ? ` (${d.error_message})` : ''}`);
}

try {
  let head = sha();
  await send('opened', head);
  await show(await waitFor(['READY', 'FAILED'], head));
  for (let i = 0; i < 2; i++) {
    head = sha();
    await send('synchronize', head);
    await show(await waitFor(['READY', 'FAILED'], head));
  }
  if (process.argv.includes('--close')) {
    await send('closed', head);
    await show(await waitFor(['DESTROYED', 'FAILED']));
  } else {
    const env = await environment();
    console.log(`\nThe preview stays up: ${query}/environments/${env.id} (sign in with the operator user and password of npm start's banner). pnpm demo --close closes a pull request at the end.`);
  }
  console.log('\ndone');
} catch (err) {
  console.error(`demo failed: ${err.message} (is the stack running? npm start)`);
  process.exit(1);
}
