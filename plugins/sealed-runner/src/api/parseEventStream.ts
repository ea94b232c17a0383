/** One server-sent event. */
export interface ServerSentEvent {
  id?: string;
  event: string;
  data: string;
}

/** The lines of a stream, ended by CRLF, LF or CR as the event-stream format allows. */
async function* readLines(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done
        ? decoder.decode()
        : decoder.decode(value, { stream: true });
      for (;;) {
        const newline = buffer.search(/\r\n|\r|\n/);
        if (newline < 0) {
          break;
        }
        // A '\r' at the end of a chunk may be half of '\r\n'; at the end of
        // the stream it ends the line.
        if (
          !done &&
          buffer[newline] === '\r' &&
          newline + 1 === buffer.length
        ) {
          break;
        }
        const width = buffer.startsWith('\r\n', newline) ? 2 : 1;
        yield buffer.slice(0, newline);
        buffer = buffer.slice(newline + width);
      }
      if (done) {
        // An unterminated last line is dropped, as the format says.
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Reads `text/event-stream` from a fetch body. `EventSource` cannot send
 * the Backstage token, so the stream is read through `fetchApi` instead;
 * this follows the WHATWG parsing rules for the fields the gate sends
 * (`id`, `event`, `data`; comments are keepalives).
 */
export async function* parseEventStream(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<ServerSentEvent> {
  let event: { id?: string; event?: string; data: string[] } = { data: [] };
  for await (const line of readLines(body)) {
    if (line === '') {
      if (event.data.length > 0) {
        yield {
          ...(event.id !== undefined ? { id: event.id } : {}),
          event: event.event ?? 'message',
          data: event.data.join('\n'),
        };
      }
      event = { data: [] };
      continue;
    }
    if (line.startsWith(':')) {
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    if (field === 'data') {
      event.data.push(value);
    } else if (field === 'event') {
      event.event = value;
    } else if (field === 'id') {
      event.id = value;
    }
  }
}
