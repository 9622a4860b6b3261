/** The sandbox kinds by name, apart from their code: the CLI offers them without loading any. */
export const sandboxKindNames = ["bwrap", "local", "docker"] as const;
export type SandboxKindName = (typeof sandboxKindNames)[number];
