/** A policy's CEL expressions: parsed and checked once, evaluated with errors worded as cel-go words them. */
import { celEnv, isCelError, isCelList, isCelMap, parse, plan, type CelInput } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';

export interface CompiledExpression {
  source: string;
  run: (bindings: Record<string, CelInput>) => unknown;
}

const ENV = celEnv({ funcs: strings });
/** Functions and operators evaluated here: the standard library, the strings extension, the planner's own. */
const FUNCTIONS = new Set([...[...ENV.funcs].map((f) => f.name), '_&&_', '_||_', '_?_:_', '_[_]', '@not_strictly_false']);
/** The variables of a ValidatingAdmissionPolicy's expressions (without params and authorizer). */
const ROOTS = new Set(['object', 'oldObject', 'request', 'namespaceObject', 'variables']);
/** Type names CEL resolves as identifiers (`type(x) == int`). */
const TYPE_NAMES = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn']);

type Expr = ReturnType<typeof parse>['expr'];

/**
 * Parses and checks one expression: what the API server would refuse to store (it does not parse, names an
 * undeclared variable or an unknown field of `variables`) and what this evaluator does not implement (params,
 * authorizer, functions outside the standard library and strings extension) are errors, never a silent pass.
 */
export function compileExpression(source: string, where: string, variables: ReadonlySet<string>, problems: string[]): CompiledExpression {
  const failed: CompiledExpression = { source, run: () => new Error('not compiled') };
  if (typeof source !== 'string' || source.trim() === '') {
    problems.push(`${where}: Required value`);
    return failed;
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    problems.push(`${where}: compilation error: ${(err as Error).message} (or CEL syntax this evaluator's parser lacks, such as optional fields)`);
    return failed;
  }
  const before = problems.length;
  checkExpr(parsed.expr, new Set(), variables, (problem) => problems.push(`${where}: ${problem}`));
  if (problems.length > before) return failed;
  const program = plan(ENV, parsed) as (bindings: Record<string, CelInput>) => unknown;
  return { source, run: program };
}

function checkExpr(expr: Expr | undefined, scope: ReadonlySet<string>, variables: ReadonlySet<string>, problem: (text: string) => void): void {
  if (!expr) return;
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'constExpr':
      return;
    case 'identExpr': {
      const name = kind.value.name;
      if (scope.has(name) || ROOTS.has(name) || TYPE_NAMES.has(name)) return;
      if (name === 'params') problem(`undeclared reference to 'params': policies with paramKind are not supported by this evaluator`);
      else if (name === 'authorizer') problem(`'authorizer' is not supported by this evaluator`);
      else problem(`compilation error: undeclared reference to '${name}'`);
      return;
    }
    case 'selectExpr': {
      const operand = kind.value.operand;
      if (operand?.exprKind.case === 'identExpr' && operand.exprKind.value.name === 'variables' && !scope.has('variables') && !variables.has(kind.value.field)) {
        problem(`compilation error: undefined field '${kind.value.field}' (variables are declared before they are used)`);
      }
      checkExpr(operand, scope, variables, problem);
      return;
    }
    case 'callExpr': {
      const call = kind.value;
      const qualified = call.target ? qualifiedName(call.target) : undefined;
      if (qualified !== undefined && FUNCTIONS.has(`${qualified}.${call.function}`) && !scope.has(qualified.split('.')[0]!)) {
        for (const arg of call.args) checkExpr(arg, scope, variables, problem);
        return;
      }
      if (!FUNCTIONS.has(call.function)) {
        problem(`function '${call.function}' is not supported by this evaluator (CEL's standard library and strings extension only; Kubernetes' own libraries are not implemented)`);
      }
      checkExpr(call.target, scope, variables, problem);
      for (const arg of call.args) checkExpr(arg, scope, variables, problem);
      return;
    }
    case 'listExpr':
      for (const e of kind.value.elements) checkExpr(e, scope, variables, problem);
      return;
    case 'structExpr':
      if (kind.value.messageName) problem(`message construction ${kind.value.messageName}{…} is not supported by this evaluator`);
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey') checkExpr(entry.keyKind.value, scope, variables, problem);
        checkExpr(entry.value, scope, variables, problem);
      }
      return;
    case 'comprehensionExpr': {
      const c = kind.value;
      checkExpr(c.iterRange, scope, variables, problem);
      checkExpr(c.accuInit, scope, variables, problem);
      const inner = new Set([...scope, c.iterVar, c.accuVar, ...(c.iterVar2 ? [c.iterVar2] : [])]);
      checkExpr(c.loopCondition, inner, variables, problem);
      checkExpr(c.loopStep, inner, variables, problem);
      checkExpr(c.result, inner, variables, problem);
      return;
    }
    default:
      problem(`expression kind ${String(kind.case)} is not supported by this evaluator`);
  }
}

function qualifiedName(expr: Expr): string | undefined {
  if (expr.exprKind.case === 'identExpr') return expr.exprKind.value.name;
  if (expr.exprKind.case === 'selectExpr' && !expr.exprKind.value.testOnly && expr.exprKind.value.operand) {
    const operand = qualifiedName(expr.exprKind.value.operand);
    return operand === undefined ? undefined : `${operand}.${expr.exprKind.value.field}`;
  }
  return undefined;
}

/** An evaluation: the value, or the error as the API server words it. */
export function evaluate(expression: CompiledExpression, bindings: Record<string, CelInput>): { value?: unknown; error?: string } {
  let result: unknown;
  try {
    result = expression.run(bindings);
  } catch (err) {
    result = err;
  }
  if (isCelError(result) || result instanceof Error) return { error: `expression '${expression.source}' resulted in error: ${celErrorText(result)}` };
  return { value: result };
}

/** cel-go's wording where it differs from @bufbuild/cel's for the same error. */
export function celErrorText(err: Error): string {
  const missing = /^field not found: (.*)$/s.exec(err.message);
  return missing ? `no such key: ${missing[1]}` : err.message;
}

export function celTypeName(value: unknown): string {
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return 'double';
  if (typeof value === 'boolean') return 'bool';
  if (value instanceof Uint8Array) return 'bytes';
  if (isCelList(value)) return 'list';
  if (isCelMap(value)) return 'map';
  return typeof value;
}
