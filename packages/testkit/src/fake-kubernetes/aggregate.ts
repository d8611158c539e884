/** utilerrors.NewAggregate(...).Error(): one message as is, several (deduplicated) as `[a, b]`. */
export function aggregate(messages: string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`;
}
