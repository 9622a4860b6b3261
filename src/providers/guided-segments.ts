/**
 * What the two guided-decoding loops (text level in `guided.ts`, token level in `guided-tokens.ts`)
 * share: the row shapes they record and the stop-string cut.
 */

export type GuidedRole = "base" | "oracle";

export interface GuidedSegment {
  text: string;
  model: GuidedRole;
  tokens: number;
}

/**
 * The base model's next-token distribution at one decision point (`analysis: true`): at an oracle
 * consultation or at a token the base model wrote. `distribution` says where the statistics come
 * from: the full vocabulary (token-level mode) or the server's top logprobs, the leftover mass
 * counted as one more outcome (a lower bound on the entropy).
 */
export interface GuidedPoint {
  /** Token index in the completion. */
  position: number;
  consulted: boolean;
  /** Bits. */
  entropy: number;
  varentropy: number;
  top1_prob: number;
  top1_minus_top2: number;
  base_token: string;
  /** The oracle's next token there (null where it was not asked: HTTP mode at base tokens). */
  oracle_token: string | null;
  agree: boolean | null;
  distribution: "full_vocabulary" | "top_logprobs";
}

/**
 * Appends `piece` to the generated `text` and cuts it at the first stop string that now occurs (one
 * may span earlier pieces: the search starts where a stop ending in `piece` could begin), dropping
 * the cut characters from the end of `segments` too (token counts stay as generated). Returns the
 * new text and whether a stop string ended it. Shared by the text-level and token-level loops.
 */
export function appendCut(
  text: string,
  piece: string,
  stops: readonly string[],
  longestStop: number,
  segments: GuidedSegment[],
): { text: string; stopped: boolean } {
  const from = Math.max(0, text.length - longestStop + 1);
  const next = text + piece;
  let cut = -1;
  for (const stop of stops) {
    const at = stop ? next.indexOf(stop, from) : -1;
    if (at !== -1 && (cut === -1 || at < cut)) cut = at;
  }
  if (cut === -1) return { text: next, stopped: false };
  let left = next.length - cut;
  while (left > 0 && segments.length > 0) {
    const last = segments[segments.length - 1] as GuidedSegment;
    if (last.text.length > left) {
      last.text = last.text.slice(0, last.text.length - left);
      break;
    }
    left -= last.text.length;
    segments.pop();
  }
  return { text: next.slice(0, cut), stopped: true };
}
