import type { Reportable } from './render.js';
import { xmlAttr, xmlText } from './xml.js';

/** JUnit XML: one test case per stage; stages that did not run are <skipped>, failed ones carry their findings. */
export function junitXml(result: Reportable, suite: string): string {
  const failures = result.stages.filter((s) => s.status === 'failed').length;
  const skipped = result.stages.filter((s) => s.status === 'skipped' || s.status === 'not-run').length;
  const cases = result.stages.map((s) => {
    const open = `    <testcase classname="${xmlAttr(suite)}" name="${xmlAttr(s.name)}" time="${s.seconds.toFixed(3)}"`;
    if (s.status === 'failed') {
      const text = s.findings.map((f) => `${f.severity} ${f.rule}: ${f.message}`).join('\n');
      const first = s.findings[0];
      return `${open}>\n      <failure message="${xmlAttr(first ? `${first.rule}: ${first.message}` : 'failed')}">${xmlText(text)}</failure>\n    </testcase>`;
    }
    if (s.status === 'skipped' || s.status === 'not-run') {
      return `${open}>\n      <skipped message="${xmlAttr(`${s.status === 'skipped' ? 'SKIPPED' : 'NOT RUN'}: ${s.reason ?? ''}`)}"/>\n    </testcase>`;
    }
    return `${open}/>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n  <testsuite name="${xmlAttr(suite)}" tests="${result.stages.length}" failures="${failures}" skipped="${skipped}" time="${result.totalSeconds.toFixed(3)}" timestamp="${xmlAttr(result.startedAt)}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}
