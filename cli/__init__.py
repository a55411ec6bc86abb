"""The `supportline` command (`cli.main:main`, the entry point in pyproject.toml) and its groups.

* `cli.main`: the group and its core commands: `db upgrade`, `load`, `export`, `serve`, `call`,
  `demo`; it adds the groups of the other modules;
* `cli.admin`: `supportline admin create|token|list` (console accounts and API tokens);
* `cli.desk`: `presence`, `queue`, `report`, and the commands that start the background processes
  of `workers/` (`worker`, `dispatcher`).

`supportline call` is the dry run of `twilio_doubles.dryrun`.
"""
