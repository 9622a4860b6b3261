/** Formats `benchline convert` writes (formats.ts), apart from their code: the CLI offers them without loading it. */
export const trialFormats = ["swebench", "editbench", "swebench-report", "cvdp-report", "guided"] as const;
export type TrialFormat = (typeof trialFormats)[number];
