import { SessionRuntimeError } from '@session-runtime/client'

/** An error as a guest or an operator reads it: the contract's code first, then the message. */
export function describeError(error: Error): string {
  return error instanceof SessionRuntimeError ? `${error.code}: ${error.message}` : error.message
}
