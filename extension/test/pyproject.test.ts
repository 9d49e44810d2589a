import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { normalizeDistName, parseDependencies } from '../src/common/pyproject';

const SAMPLE = `
[build-system]
requires = ["setuptools>=69"]

[project]
name = "x"
dependencies = [
    # torch comes first; "quoted words" in comments are ignored
    "torch>=2.4",
    "transformers>=5.0,<6",  # trailing comment
    'PyYAML>=6', "uvicorn[standard]>=0.30",
    "tree_sitter.python>=0.25",
]

[project.optional-dependencies]
dev = ["pytest>=8"]
`;

test('reads the dependency specs and normalized names of [project]', () => {
  const deps = parseDependencies(SAMPLE);
  assert.deepEqual(
    deps.map((d) => d.name),
    ['torch', 'transformers', 'pyyaml', 'uvicorn', 'tree-sitter-python'],
  );
  assert.equal(deps[1].spec, 'transformers>=5.0,<6');
  assert.equal(deps[3].spec, 'uvicorn[standard]>=0.30');
});

test('optional dependencies and build requirements are not included', () => {
  const names = parseDependencies(SAMPLE).map((d) => d.name);
  assert.ok(!names.includes('pytest'));
  assert.ok(!names.includes('setuptools'));
});

test('a pyproject without [project] is an error; without dependencies an empty list', () => {
  assert.throws(() => parseDependencies('[tool.x]\na = 1\n'), /no \[project\] section/);
  assert.deepEqual(parseDependencies('[project]\nname = "x"\n'), []);
});

test("the repository's own pyproject.toml parses to its runtime requirements", () => {
  const deps = parseDependencies(readFileSync('pyproject.toml', 'utf8'));
  const names = deps.map((d) => d.name);
  for (const needed of ['pygls', 'lsprotocol', 'transformers', 'torch']) {
    assert.ok(names.includes(needed), needed);
  }
  assert.ok(!names.includes('pytest'), 'dev extras are not runtime requirements');
});

test('PEP 503 normalization', () => {
  assert.equal(normalizeDistName('Tree_Sitter.Python'), 'tree-sitter-python');
});
