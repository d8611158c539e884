import { html, type SafeHtml } from './html.js';

/** Who is looking, as the pages show it, with the token their forms carry. */
export interface PageViewer {
  login: string;
  kind: 'operator' | 'github';
  csrf: string;
}

/** A whole page of the dashboard (and of /setup): the header with who is signed in, and the live view's address. */
export function layout(title: string, body: SafeHtml, options: { viewer?: PageViewer | undefined; live?: string | undefined } = {}): string {
  const { viewer, live } = options;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Ephemera</title>
<link rel="stylesheet" href="/static/dashboard.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<script src="/static/dashboard.js" defer></script>
</head>
<body${live ? html` data-live="${live}"` : ''}>
<header class="top">
<a class="brand" href="/">Ephemera</a>
${
  viewer
    ? html`<form class="sign-out" method="post" action="/auth/sign-out"><span>${viewer.login}${viewer.kind === 'operator' ? ' (operator)' : ''}</span>
<input type="hidden" name="_csrf" value="${viewer.csrf}"><button type="submit">Sign out</button></form>`
    : ''
}
</header>
<main>
${body}
</main>
</body>
</html>
`.text;
}
