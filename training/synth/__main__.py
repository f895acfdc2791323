"""`python -m training.synth ...` runs the generator's command line (training.synth.cli)."""

from training.synth.cli import main

main()
