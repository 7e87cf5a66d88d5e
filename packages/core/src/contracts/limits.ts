/**
 * Explicit limits. Every one is enforced by the zod schemas in this folder, so the server,
 * the `/v1` endpoint and the clients reject oversize input the same way.
 */
export const LIMITS = {
  /** Characters in one text content part (about 1 MiB of ASCII). */
  maxTextChars: 1_000_000,
  /** Content parts in one message item. */
  maxContentParts: 64,
  /** Items a client may send in one request. */
  maxInputItems: 256,
  /** Tools a client may declare in one request. */
  maxToolsPerRequest: 64,
  /** Serialized size of a metadata object, in characters of JSON. */
  maxMetadataChars: 16_384,
  /** Keys in a metadata object (the Responses API allows 16). */
  maxMetadataKeys: 16,
  /** Characters of a metadata key / value. */
  maxMetadataKeyChars: 64,
  maxMetadataValueChars: 512,
  /** Characters in a conversation title. */
  maxTitleChars: 512,
  /** Characters in a tool name (the OpenAI limit). */
  maxToolNameChars: 64,
  /**
   * Nesting levels of a tool's JSON Schema (`parameters`). A turn's settings travel inside its
   * events, whose JSON may nest 32 levels: the schema must leave room for the event around it.
   */
  maxToolSchemaDepth: 24,
  /** Characters in tool call arguments or outputs. */
  maxToolPayloadChars: 1_000_000,
  /** Characters in a client request id / idempotency key. */
  maxRequestIdChars: 255,
  /** Characters in system instructions. */
  maxInstructionsChars: 256_000,
  /** Page size bounds for every listing. */
  maxPageSize: 200,
  defaultPageSize: 50,
  /** Model steps (provider calls) in one turn's tool loop. */
  maxToolSteps: 8,
} as const
