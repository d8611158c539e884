import { registerAppNotice } from '../setup/setup-pages.js';
import { html, type SafeHtml } from './html.js';

export function signInPage(p: { csrf: string; operator: boolean; github: boolean; error?: string | undefined; setup?: boolean }): SafeHtml {
  return html`<h1>Sign in</h1>
${p.setup ? registerAppNotice() : ''}
${p.error ? html`<p class="error" role="alert">${p.error}</p>` : ''}
${p.github ? html`<p><a class="button" href="/auth/github">Sign in with GitHub</a></p>` : ''}
${
  p.operator
    ? html`<form class="sign-in" method="post" action="/auth/sign-in">
<input type="hidden" name="_csrf" value="${p.csrf}">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in as operator</button>
</form>`
    : ''
}
${!p.github && !p.operator ? html`<p>No way to sign in is configured: set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET, or ADMIN_USERNAME and ADMIN_PASSWORD (with ADMIN_SIGN_IN on).</p>` : ''}`;
}

/** What the pages show once GitHub's last answer about a person is too old to go by and GitHub does not answer. */
export function unavailablePage(staleMinutes: number): SafeHtml {
  return html`<h1>GitHub is unavailable</h1>
<p role="alert">Ephemera shows you the environments of the repositories GitHub says you reach, and GitHub has not answered for over ${staleMinutes} minutes. Nothing is shown until it does: try again in a minute.</p>`;
}

/** A GitHub sign-in of someone none of whose repositories has the App installed: no session was started. */
export function noRepositoryPage(login: string): SafeHtml {
  return html`<h1>No repository</h1>
<p>You reach no repository Ephemera serves: you signed in to GitHub as <strong>${login}</strong>, but none of the repositories the Ephemera GitHub App is installed on is one you can see. You have not been signed in to the dashboard.</p>
<p>Ask an owner of your organization to install the App on your repository, or to give you access to one it serves.</p>
<p><a href="/sign-in">Sign in again</a></p>`;
}

export function messagePage(heading: string, text: string): SafeHtml {
  return html`<h1>${heading}</h1><p>${text}</p><p><a href="/">Environments</a></p>`;
}

export function signOutPage(csrf: string): SafeHtml {
  return html`<h1>Sign out</h1><form method="post" action="/auth/sign-out"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Sign out</button></form>`;
}
