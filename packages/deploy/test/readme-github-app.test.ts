import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { GITHUB_APP_EVENTS, GITHUB_APP_PERMISSIONS } from '@ephemera/schema';

// Someone creating the GitHub App by hand ticks what README.md's "Creating the GitHub App" lists, and /setup registers
// what the code defines: the two must be the same permissions, accesses and events, or previews silently never start.

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const SECTION = README.slice(README.indexOf('## Creating the GitHub App'), README.indexOf('\n## ', README.indexOf('## Creating the GitHub App') + 1));

/** The rows of the section's table whose header starts with `first`: the name in backticks, and the other cells. */
function tableRows(first: string): Array<{ name: string; cells: string[] }> {
  const lines = SECTION.split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => l.startsWith(`| ${first} |`));
  if (start < 0) throw new Error(`no table headed "${first}" in "Creating the GitHub App"`);
  const rows: Array<{ name: string; cells: string[] }> = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const name = /`([a-z_]+)`/.exec(cells[0]!)?.[1];
    if (!name) throw new Error(`a row without a name in backticks: ${line}`);
    rows.push({ name, cells: cells.slice(1) });
  }
  return rows;
}

const ACCESS: Record<string, string> = { read: 'read', 'read & write': 'write' };

describe('README.md, "Creating the GitHub App"', () => {
  it('starts with the one-click way and keeps the manual one', () => {
    expect(SECTION.indexOf('### In one click')).toBeGreaterThan(0);
    expect(SECTION.indexOf('### By hand')).toBeGreaterThan(SECTION.indexOf('### In one click'));
  });

  it('lists exactly the permissions, with their access, that /setup registers', () => {
    const listed = Object.fromEntries(tableRows('permission').map((r) => [r.name, ACCESS[r.cells[0]!] ?? r.cells[0]]));
    expect(listed).toEqual(GITHUB_APP_PERMISSIONS);
  });

  it('lists exactly the events that /setup subscribes to', () => {
    expect(
      tableRows('event')
        .map((r) => r.name)
        .sort(),
    ).toEqual([...GITHUB_APP_EVENTS].sort());
  });
});
