/** A policy's `variables` (plugin/cel/composition.go): each evaluated on first use within one activation. */
import { celMap, isCelError, type CelInput } from '@bufbuild/cel';

import type { Inputs } from './cel-inputs.js';
import { celErrorText, type CompiledExpression } from './compile-expression.js';

export interface CompiledVariable {
  name: string;
  expression: CompiledExpression;
}

/** One activation: the inputs and a `variables` whose every entry is evaluated on first use, then kept. */
export function activationOf(inputs: Inputs, variables: CompiledVariable[]): Record<string, CelInput> {
  const bindings: Record<string, CelInput> = { ...inputs };
  bindings.variables = celMap(new LazyVariables(variables, bindings));
  return bindings;
}

class LazyVariables implements ReadonlyMap<string, CelInput> {
  readonly #definitions: Map<string, CompiledExpression>;
  readonly #bindings: Record<string, CelInput>;
  readonly #values = new Map<string, { value: CelInput } | { error: string }>();

  constructor(variables: CompiledVariable[], bindings: Record<string, CelInput>) {
    this.#definitions = new Map(variables.map((v) => [v.name, v.expression]));
    this.#bindings = bindings;
  }

  get(name: string): CelInput | undefined {
    const definition = this.#definitions.get(name);
    if (!definition) return undefined;
    let entry = this.#values.get(name);
    if (!entry) {
      let result: unknown;
      try {
        result = definition.run(this.#bindings);
      } catch (err) {
        result = err;
      }
      entry = isCelError(result) || result instanceof Error ? { error: celErrorText(result) } : { value: result as CelInput };
      this.#values.set(name, entry);
    }
    // composition.go: the error surfaces where the variable is used.
    if ('error' in entry) throw new Error(`composited variable "${name}" fails to evaluate: ${entry.error}`);
    return entry.value;
  }

  has(name: string): boolean {
    return this.#definitions.has(name);
  }

  get size(): number {
    return this.#definitions.size;
  }

  *entries(): MapIterator<[string, CelInput]> {
    for (const name of this.#definitions.keys()) yield [name, this.get(name)!];
  }

  keys(): MapIterator<string> {
    return this.#definitions.keys();
  }

  *values(): MapIterator<CelInput> {
    for (const [, value] of this.entries()) yield value;
  }

  forEach(callback: (value: CelInput, key: string, map: ReadonlyMap<string, CelInput>) => void): void {
    for (const [name, value] of this.entries()) callback(value, name, this);
  }

  [Symbol.iterator](): MapIterator<[string, CelInput]> {
    return this.entries();
  }
}
