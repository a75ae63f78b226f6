#!/bin/sh
# The container's entry: apply committed migrations, then replace this shell
# with the server so SIGTERM from `docker stop` reaches it directly.
set -e
npm run --silent db:migrate
exec node dist/src/main.js
