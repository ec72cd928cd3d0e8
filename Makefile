# Shorthands for the scripts in scripts/ (the README names the scripts).
.PHONY: build run test
build:
	./scripts/build.sh
run:
	./scripts/run.sh
test:
	./scripts/test.sh
