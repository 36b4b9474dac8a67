import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));

/** The lowest Node major an `engines.node` range accepts (`>=20`, `>= 20.19`, `^20.0.0 || >=22`; `*` is 0). */
const lowestMajor = (range: string) =>
  Math.min(...range.split('||').map((r) => Number(/(\d+)/.exec(r)?.[1] ?? 0)));

describe('package.json', () => {
  it("no package npm ci installs wants a newer Node than the CLI's engines (it warns EBADENGINE)", () => {
    const ours = lowestMajor(pkg.engines.node);
    expect(ours).toBe(20);
    const tooNew = Object.entries(lock.packages as Record<string, { engines?: { node?: string } }>)
      .filter(([name, p]) => name && p.engines?.node && lowestMajor(p.engines.node) > ours)
      .map(([name, p]) => `${name} wants node ${p.engines?.node}`);
    expect(tooNew).toEqual([]);
  });

  it('the libraries are bundled (devDependencies): the CLI tarball installs none; @actions/exec is not one', () => {
    expect(pkg.dependencies).toBeUndefined();
    expect(Object.keys(pkg.devDependencies)).toEqual(
      expect.arrayContaining(['@actions/github', '@octokit/plugin-retry', '@octokit/plugin-throttling']),
    );
    expect(pkg.devDependencies['@actions/exec']).toBeUndefined();
  });
});
