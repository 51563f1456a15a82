/**
 * Asking a person at a terminal for a secret (a signing key's password), as cosign does when COSIGN_PASSWORD is
 * not set: the question on standard error, the answer read from the terminal without echo.
 */
import { ErrorCodes, LadingError } from '@lading/core';

/** The terminal streams a prompt uses; tests and callers may pass others. */
export interface PromptStreams {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

/** True when `streams.input` is a terminal a person can type a password into. */
export function canPrompt(streams: PromptStreams = defaultStreams()): boolean {
  return streams.input.isTTY && typeof streams.input.setRawMode === 'function';
}

/**
 * Writes `question` to the output and reads one line from the terminal with echo off (raw mode; Backspace
 * erases, Enter or Ctrl-D ends, an empty answer is allowed). Ctrl-C restores the terminal and raises SIGINT, so
 * the command stops as on any interruption (exit 130); the promise then rejects. The terminal is always restored.
 * Rejects with `ERR_LADING_USAGE` when the input is not a terminal.
 */
export function promptSecret(question: string, streams: PromptStreams = defaultStreams()): Promise<string> {
  const { input, output } = streams;
  if (!canPrompt(streams)) {
    return Promise.reject(new LadingError(ErrorCodes.usage, `${question.trim()} standard input is not a terminal`));
  }
  return new Promise((resolve, reject) => {
    const wasRaw = input.isRaw;
    let answer = '';
    const restore = (): void => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: Buffer | string): void => {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') {
          restore();
          resolve(answer);
          return;
        }
        if (char === '\u0003') {
          restore();
          // As if the terminal had sent it: the command's handler records the interruption (or, without one, the
          // process ends the default way). The rejection comes after the signal has been handled.
          process.kill(process.pid, 'SIGINT');
          setTimeout(() => {
            reject(new LadingError(ErrorCodes.usage, `${question.trim()} interrupted`));
          }, 100);
          return;
        }
        if (char === '\u007f' || char === '\b') answer = Array.from(answer).slice(0, -1).join('');
        else if (char >= ' ') answer += char;
      }
    };
    // Echo off before the question: an answer typed the moment it appears is never shown.
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
    output.write(question);
  });
}

function defaultStreams(): PromptStreams {
  return { input: process.stdin, output: process.stderr };
}
