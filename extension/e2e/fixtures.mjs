// @ts-check
/** Files and scripted model answers for the end-to-end test. */

export const API_KEY = 'e2e-key-0123456789abcdef';
const GENERATOR = 'qwen2.5-coder-32b-instruct';
const VERIFIER = 'qwen2.5-coder-14b-instruct';

export const HELLO_PY = 'import math\n\n\ndef area(radius):\n    return math.pi * radius ** 2\n\n';

export const STATS_PY = `import math


def mean(values):
    """Arithmetic mean of the values."""
    # self-evolve: return 0.0 for an empty list
    return sum(values) / len(values)
`;

/** 600 small functions: selecting all of it is not "a function". */
export const BIG_PY = Array.from(
  { length: 600 },
  (_, i) => `def f${i}(x):\n    return x + ${i}\n`,
).join('\n');

/**
 * A generator reply in the format the self-evolve flow asks for: prose, the improved function
 * and its tests in labelled fenced blocks.
 * @param {string} code @param {string} tests
 */
function generatorReply(code, tests) {
  const fence = '```';
  return `Here is the improved version.\n\n${fence}python\n# improved\n${code}${fence}\n\n${fence}python\n# tests\n${tests}${fence}\n`;
}

export const IMPROVED_MEAN = generatorReply(
  'def mean(values):\n    """Arithmetic mean; 0.0 for none."""\n    if not values:\n        return 0.0\n    return math.fsum(values) / len(values)\n',
  'assert mean([]) == 0.0\nassert mean([1, 2, 3]) == 2.0\n',
);

export const IMPROVED_MEAN_AGAIN = generatorReply(
  'def mean(values):\n    """Arithmetic mean; 0.0 for none."""\n    if not values:\n        return 0.0\n    return math.fsum(values) / float(len(values))\n',
  'assert mean([]) == 0.0\nassert mean([2, 4]) == 3.0\n',
);

/** Its tests fail against its own code: the execution gate must say no. */
export const BROKEN_AREA = generatorReply(
  'def area(radius):\n    return math.pi * radius\n',
  'assert area(2) == math.pi * 4\n',
);

/** @param {string} text a test-server rule answering the generator */
export const generatorRule = (text) => ({ model: GENERATOR, text });

/** A test-server rule: the verifier says Yes, its first token carrying Yes/No logprobs. */
export const verifierRule = () => ({
  model: VERIFIER,
  text: 'Yes',
  logprobs: [{ Yes: -0.05, No: -3.2 }],
});

/** A new function for a `self-evolve:` instruction on a line of its own. */
export const NEW_MEDIAN = generatorReply(
  'def median(values):\n    """The middle value (the mean of the two middle ones)."""\n    ordered = sorted(values)\n    mid = len(ordered) // 2\n    if len(ordered) % 2:\n        return ordered[mid]\n    return (ordered[mid - 1] + ordered[mid]) / 2\n',
  'assert median([3, 1, 2]) == 2\nassert median([4, 1, 3, 2]) == 2.5\n',
);
