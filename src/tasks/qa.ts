import { z } from "zod";
import { defineTask, idFor } from "./define.js";

const row = z.object({
  id: z.union([z.string().min(1), z.number()]).optional(),
  question: z.string().min(1),
  answer: z.union([z.string(), z.number()]),
  category: z.string().optional(),
});

/** Question answering: `{id?, question, answer, category?}`; the completion is the answer. */
export const qaTask = defineTask({
  name: "qa",
  description: "Question answering: rows {id?, question, answer, category?}; scored against answer",
  row,
  defaultPrompts: {
    plain: { user: "{{question}}" },
    concise: {
      system: "Answer the question with only the answer: no explanation, no punctuation at the end.",
      user: "Question: {{question}}\nAnswer:",
    },
  },
  defaultScorers: ["exact"],
  toSample: (r) => ({
    id: idFor({ question: r.question, answer: r.answer }, r.id),
    input: { question: r.question },
    target: String(r.answer),
    ...(r.category !== undefined ? { metadata: { category: r.category } } : {}),
  }),
  reference: (sample) => (sample.target === undefined ? undefined : String(sample.target)),
  parse: (completion) => completion.trim(),
});
