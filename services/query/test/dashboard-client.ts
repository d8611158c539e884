import type { Express } from 'express';
import request, { type Response } from 'supertest';
import type { FakeGithub } from '@ephemera/testkit';

/** The cookies a response sets, as a Cookie header over `previous`; cleared cookies left out. */
export function cookiesOf(res: Response, previous = ''): string {
  const jar = new Map(previous ? previous.split('; ').map((c) => c.split('=', 2) as [string, string]) : []);
  for (const line of (res.headers['set-cookie'] as unknown as string[] | undefined) ?? []) {
    const [pair] = line.split(';');
    const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
    if (value === '') jar.delete(name);
    else jar.set(name, value);
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** The `Set-Cookie` line of the cookie `name`, or undefined. */
export function setCookie(res: Response, name: string): string | undefined {
  return ((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []).find((c) => c.startsWith(`${name}=`));
}

export const csrfOf = (text: string) => /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? '';

/** Signs in through the operator's form (from `address`, when given); returns the answer, the session's Cookie header and its CSRF token. */
export async function operatorSession(app: Express, credentials: { username: string; password: string }, address?: string) {
  const page = await request(app).get('/sign-in');
  const post = request(app).post('/auth/sign-in').set('Cookie', cookiesOf(page));
  if (address) void post.set('X-Forwarded-For', address);
  const res = await post.type('form').send({ _csrf: csrfOf(page.text), ...credentials });
  const cookie = cookiesOf(res);
  const home = await request(app).get('/').set('Cookie', cookie);
  return { res, cookie, csrf: csrfOf(home.text) };
}

/**
 * Goes through "Sign in with GitHub" as `login`: the dashboard's redirect, the fake GitHub's authorize page, and
 * the callback with the browser's cookies. Returns the callback's answer, the cookies and the session's CSRF token.
 */
export async function githubSignIn(app: Express, fake: FakeGithub, login: string) {
  fake.setOAuthUser(login);
  const start = await request(app).get('/auth/github');
  const authorize = await fetch(start.headers.location!, { redirect: 'manual' });
  const back = new URL(authorize.headers.get('location')!);
  const callback = await request(app).get(`/auth/github/callback${back.search}`).set('Cookie', cookiesOf(start));
  const cookie = cookiesOf(callback);
  const home = await request(app).get('/').set('Cookie', cookie);
  return { start, callback, cookie, csrf: csrfOf(home.text) };
}

/** The session id a Cookie header carries (cookie-signature's `s:<id>.<signature>`). */
export function sessionIdOf(cookie: string): string {
  const value = /(?:^|; )(?:__Host-)?ephemera_session=([^;]+)/.exec(cookie)?.[1];
  if (!value) throw new Error(`no session cookie in ${cookie}`);
  return /^s:([^.]+)\./.exec(decodeURIComponent(value))![1]!;
}
