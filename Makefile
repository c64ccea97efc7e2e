# Spillway: `make run` brings the pipeline up locally; `make test` runs every check.
# Everything is installed from this repo's own lock files:
#   tools/requirements.txt  -> uv (the installer), in .tools/
#   uv.lock                 -> the project, its Lambda dependencies and dev tools, in .venv/
#   emulator/requirements.txt -> the local AWS emulator (ministack), in .venv-emulator/
#   package-lock.json       -> the AWS CDK CLI (cdk synth / cdk deploy), in node_modules/

PYTHON ?= python3
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: run test setup lint unit integration infra e2e bench mutation clean

run: setup
	.venv/bin/spillway local up $(ARGS)

# Coverage is measured and reported (a terminal summary), not gated on a number.
test: setup lint
	.venv/bin/pytest --cov --cov-report=term

setup: .tools/.stamp .venv/.stamp .venv-emulator/.stamp node_modules/.stamp

.tools/.stamp: tools/requirements.txt
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check --require-hashes -r tools/requirements.txt
	touch $@

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI) nothing imported is
# ever cached, and each of the suite's many Python processes would compile its dependencies again.
.venv/.stamp: .tools/.stamp uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON) --quiet --compile-bytecode
	touch $@

.venv-emulator/.stamp: .tools/.stamp emulator/requirements.txt
	$(UV) venv --quiet --allow-existing --python $(PYTHON) .venv-emulator
	$(UV) pip sync --quiet --compile-bytecode --python .venv-emulator/bin/python emulator/requirements.txt
	touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

bench: setup
	.venv/bin/python -m bench.run $(ARGS)

# Mutation testing of the lifecycle and effect modules (not part of CI; see docs/mutation.md).
mutation: setup
	tools/mutation.sh

unit integration infra e2e: setup
	.venv/bin/pytest tests/$@

clean:
	rm -rf .tools .venv .venv-emulator node_modules .build cdk.out cdk.*.out .mutation
