/**
 * One page of a list as GitHub's REST API serves it: `per_page` (with GitHub's default and ceiling) and `page` from
 * the request's query, and a `link` header naming the previous, next, last and first pages as GitHub's does, so
 * clients that follow `rel="next"` (Octokit's paginate) walk the whole list.
 */
export function pageOf<T>(items: T[], url: URL): { items: T[]; headers: Record<string, string> } {
  const asked = Number(url.searchParams.get('per_page') ?? 30);
  const perPage = Number.isInteger(asked) && asked > 0 ? Math.min(100, asked) : 30;
  const page = Math.max(1, Math.trunc(Number(url.searchParams.get('page') ?? 1)) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const at = (n: number) => {
    const link = new URL(url);
    link.searchParams.set('per_page', String(perPage));
    link.searchParams.set('page', String(n));
    return link.toString();
  };
  const links: string[] = [];
  if (page > 1) links.push(`<${at(Math.min(page - 1, last))}>; rel="prev"`);
  if (page < last) links.push(`<${at(page + 1)}>; rel="next"`, `<${at(last)}>; rel="last"`);
  if (page > 1) links.push(`<${at(1)}>; rel="first"`);
  return { items: items.slice((page - 1) * perPage, page * perPage), headers: links.length ? { link: links.join(', ') } : {} };
}
