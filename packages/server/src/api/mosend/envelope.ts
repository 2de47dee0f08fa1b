/** Mosend wraps every success body: `{data, timestamp}`. */
export function envelope<T>(data: T): { data: T; timestamp: string } {
  return { data, timestamp: new Date().toISOString() };
}
