import { describe, expect, it } from 'vitest';
import { checkImports, importsOf, problemsOf } from '../../scripts/check-imports.js';

describe('the import rules (npm run lint)', () => {
  it('src/ keeps them', () => {
    expect(checkImports()).toEqual([]);
  });
  it('reads static, type-only, re-exported and dynamic imports', () => {
    const text = [
      "import a from './a.js';",
      "import type { B } from '../b.js';",
      "export { c } from './c.js';",
      "const d = await import('@actions/d');",
    ].join('\n');
    expect(importsOf(text)).toEqual(['./a.js', '../b.js', './c.js', '@actions/d']);
  });
  it('@actions/* only in src/actions, src/entries and src/cli', () => {
    const text = "import * as core from '@actions/core';";
    for (const ok of ['actions/x.ts', 'entries/x.ts', 'cli/index.ts'])
      expect(problemsOf(ok, text)).toEqual([]);
    for (const bad of ['core/log.ts', 'verify/run.ts', 'report/render.ts']) {
      expect(problemsOf(bad, text)).toEqual([
        expect.stringMatching(/^src\/.*: imports @actions\/core\. Only src\/actions/),
      ]);
    }
  });
  it('a pipeline importing another pipeline is a problem, wherever the importing file sits', () => {
    expect(problemsOf('verify/run.ts', "import { runDrill } from '../drill/run.js';")).toEqual([
      'src/verify/run.ts: the verify pipeline imports src/drill/run.ts of the drill pipeline. Move what they share into a shared room (backup/, comparison/, core/, config/, checks/, postgres/, report/)',
    ]);
    expect(problemsOf('compare/stages/x.ts', "import type { P } from '../../pitr/plan.js';")).toHaveLength(1);
    expect(problemsOf('migrate/run.ts', "import { MARKER } from '../postgres/client.js';")).toEqual([]);
    expect(problemsOf('drill/stages/a.ts', "import { b } from '../run.js';")).toEqual([]);
  });
  it('a shared room importing a pipeline is a problem; a composer may import any', () => {
    expect(problemsOf('backup/verify.ts', "import { runDrill } from '../drill/run.js';")).toEqual([
      'src/backup/verify.ts: the shared room backup/ imports src/drill/run.ts of the drill pipeline. A shared room serves pipelines; move what it needs out of drill/',
    ]);
    expect(problemsOf('report/x.ts', "import type { P } from '../pitr/result.js';")).toHaveLength(1);
    expect(
      problemsOf('drill/stages/verify.ts', "import { verifyStages } from '../../backup/verify.js';"),
    ).toEqual([]);
    for (const composer of ['actions/x.ts', 'entries/x.ts', 'cli/index.ts', 'specs.ts'])
      expect(
        problemsOf(
          composer,
          "import { runPitr } from './pitr/run.js';".replace('./', composer.includes('/') ? '../' : './'),
        ),
      ).toEqual([]);
  });
});
