import { parseEventStream, ServerSentEvent } from './parseEventStream';

/** A fetch body that delivers `chunks` one read at a time. */
function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) {
        controller.enqueue(encoder.encode(chunks[i++]));
      } else {
        controller.close();
      }
    },
  });
}

async function parse(chunks: string[]): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for await (const event of parseEventStream(streamOf(chunks))) {
    events.push(event);
  }
  return events;
}

describe('parseEventStream', () => {
  it('reads id, event and data fields', async () => {
    await expect(
      parse([
        'id: 1\ndata: "first"\n\nid: 2\ndata: "second"\n\nevent: complete\ndata: {"status":"succeeded"}\n\n',
      ]),
    ).resolves.toEqual([
      { id: '1', event: 'message', data: '"first"' },
      { id: '2', event: 'message', data: '"second"' },
      { event: 'complete', data: '{"status":"succeeded"}' },
    ]);
  });

  it.each<[string, string[]]>([
    ['in the middle of a field name', ['id: 7\nda', 'ta: "x"\n\n']],
    ['in the middle of a value', ['id: 7\ndata: "', 'x"\n\n']],
    ['between a line and the blank line', ['id: 7\ndata: "x"\n', '\n']],
    ['between \\r and \\n', ['id: 7\r', '\ndata: "x"\r', '\n\r', '\n']],
    ['one character at a time', [...'id: 7\r\ndata: "x"\r\n\r\n']],
  ])('joins chunks split %s', async (_, chunks) => {
    await expect(parse(chunks)).resolves.toEqual([
      { id: '7', event: 'message', data: '"x"' },
    ]);
  });

  it('does not mistake \\r\\n split across chunks for two line ends', async () => {
    // Were the \r and the \n taken as two line ends, the blank line between
    // them would end the event early and "b" would be an event of its own.
    await expect(parse(['data: a\r', '\ndata: b\r\n\r\n'])).resolves.toEqual([
      { event: 'message', data: 'a\nb' },
    ]);
  });

  it('accepts \\r alone as a line end', async () => {
    await expect(
      parse(['data: a\rdata: b\r\rdata: c\r\r', '\n']),
    ).resolves.toEqual([
      { event: 'message', data: 'a\nb' },
      { event: 'message', data: 'c' },
    ]);
  });

  it('joins multi-line data with newlines', async () => {
    await expect(
      parse(['data: line one\ndata: line two\ndata:\ndata:  indented\n\n']),
    ).resolves.toEqual([
      { event: 'message', data: 'line one\nline two\n\n indented' },
    ]);
  });

  it('skips comments (keepalives) and unknown fields', async () => {
    await expect(
      parse([
        ': keepalive\n\n',
        ':\n',
        'retry: 1000\nfoo: bar\nid: 3\n: still here\ndata: "x"\n\n',
        ': keepalive\n\n',
      ]),
    ).resolves.toEqual([{ id: '3', event: 'message', data: '"x"' }]);
  });

  it('does not dispatch an event without data', async () => {
    await expect(
      parse(['id: 4\nevent: ping\n\ndata: "y"\n\n']),
    ).resolves.toEqual([{ event: 'message', data: '"y"' }]);
  });

  it('starts every event afresh', async () => {
    await expect(
      parse(['event: complete\nid: 9\ndata: a\n\ndata: b\n\n']),
    ).resolves.toEqual([
      { id: '9', event: 'complete', data: 'a' },
      { event: 'message', data: 'b' },
    ]);
  });

  it('keeps colons in values and takes a field without colon as empty', async () => {
    await expect(parse(['data: {"a":"b: c"}\ndata\n\n'])).resolves.toEqual([
      { event: 'message', data: '{"a":"b: c"}\n' },
    ]);
  });

  it('drops an event the stream ended in the middle of', async () => {
    await expect(parse(['data: "done"\n\ndata: "cut off"\n'])).resolves.toEqual(
      [{ event: 'message', data: '"done"' }],
    );
  });

  it('decodes multi-byte characters split across chunks', async () => {
    const bytes = new TextEncoder().encode('data: "✓ ok"\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 8)); // ends inside the three bytes of ✓
        controller.enqueue(bytes.slice(8));
        controller.close();
      },
    });
    const events: ServerSentEvent[] = [];
    for await (const event of parseEventStream(body)) {
      events.push(event);
    }
    expect(events).toEqual([{ event: 'message', data: '"✓ ok"' }]);
  });

  it('releases the body when the reader stops early', async () => {
    const body = streamOf(['data: 1\n\ndata: 2\n\n']);
    for await (const event of parseEventStream(body)) {
      expect(event.data).toBe('1');
      break;
    }
    expect(body.locked).toBe(false);
  });
});

describe('parseEventStream at the end of a stream with \\r line ends', () => {
  // "data: a\r\r" is a complete event: the second \r is the blank line.
  it('dispatches an event whose blank line is a final \\r', async () => {
    await expect(parse(['data: a\r\r'])).resolves.toEqual([
      { event: 'message', data: 'a' },
    ]);
  });
});
