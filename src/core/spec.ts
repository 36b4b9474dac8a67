import { UserError } from './errors.js';

export interface InputSpec {
  name: string;
  description: string;
  default?: string;
  required?: boolean;
}

export interface OutputSpec {
  name: string;
  description: string;
}

/** One action: action.yml, the CLI's flags and the README tables are all generated from this. */
export interface ActionSpec {
  /** The word shared by entries/, actions/, dist/ and actions/<name>/. */
  name: string;
  /** The CLI subcommand. */
  command: string;
  title: string;
  description: string;
  inputs: InputSpec[];
  outputs: OutputSpec[];
  /** The action has a post step (the same bundle, run again at the end of the job). */
  post?: boolean;
  /** false: left out of the umbrella action (`command:`); a helper of the workflows, not a room. */
  umbrella?: boolean;
}

/** Inputs another action already defines, by name, so that a shared input reads the same everywhere. */
export function inputsOf(spec: ActionSpec, names: string[]): InputSpec[] {
  return names.map((n) => {
    const i = spec.inputs.find((x) => x.name === n);
    if (!i) throw new Error(`${spec.name} has no input ${n}`);
    return i;
  });
}

function closest(word: string, options: string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)] as number[]);
    for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        (d[i] as number[])[j] = Math.min(
          ((d[i - 1] as number[])[j] as number) + 1,
          ((d[i] as number[])[j - 1] as number) + 1,
          ((d[i - 1] as number[])[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
    return (d[a.length] as number[])[b.length] as number;
  };
  const best = options.map((o) => [o, dist(word, o)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(word.length / 3)) ? best[0] : undefined;
}

/**
 * Check raw inputs (from `with:` or from flags) against a spec: unknown names and missing required
 * ones are user errors; defaults fill the rest. Values stay strings; each command parses its own.
 */
export function resolveInputs(
  spec: ActionSpec,
  raw: Record<string, string | undefined>,
  how: 'input' | 'flag',
): Record<string, string | undefined> {
  const known = spec.inputs.map((i) => i.name);
  const show = (n: string) => (how === 'flag' ? `--${n}` : n);
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      const guess = closest(key, known);
      throw new UserError(
        show(key),
        `${spec.command} has no such ${how}`,
        guess ? `Did you mean ${show(guess)}?` : `Known ${how}s: ${known.map(show).join(', ')}`,
      );
    }
  }
  const out: Record<string, string | undefined> = {};
  for (const i of spec.inputs) {
    const v = raw[i.name];
    const value = v === undefined || v === '' ? i.default : v;
    if (i.required && (value === undefined || value === '')) {
      throw new UserError(show(i.name), 'is required', `Set ${show(i.name)}: ${i.description}`);
    }
    out[i.name] = value;
  }
  return out;
}
