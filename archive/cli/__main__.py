from archive.cli.main import cli

cli(prog_name="spyglass")
