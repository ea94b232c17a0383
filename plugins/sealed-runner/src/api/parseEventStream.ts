/** One server-sent event. */
export interface ServerSentEvent {
  id?: string;
  event: string;
  data: string;
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
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event: { id?: string; event?: string; data: string[] } = { data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        return;
      }
      buffer += decoder.decode(value, { stream: true });
      for (;;) {
        const newline = buffer.search(/\r\n|\r|\n/);
        if (newline < 0) {
          break;
        }
        const line = buffer.slice(0, newline);
        const width = buffer.startsWith('\r\n', newline) ? 2 : 1;
        if (buffer[newline] === '\r' && newline + 1 === buffer.length) {
          // A '\r' at the end of a chunk may be half of '\r\n'.
          break;
        }
        buffer = buffer.slice(newline + width);
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
        let fieldValue = colon < 0 ? '' : line.slice(colon + 1);
        if (fieldValue.startsWith(' ')) {
          fieldValue = fieldValue.slice(1);
        }
        if (field === 'data') {
          event.data.push(fieldValue);
        } else if (field === 'event') {
          event.event = fieldValue;
        } else if (field === 'id') {
          event.id = fieldValue;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
}
