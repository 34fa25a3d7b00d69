"""Published detection performance (公开的检出率与误报率, issue 17 item 3): ``anxin certify``
runs a fixed evaluation protocol on the simulator's worlds — stated seeds, every fault
kind — and writes what each rule's alarm is worth: its probability of detection and its
false-alarm rate with exact 95 % intervals, the tank witness's RMSE and interval
coverage, and the leak test at 0.76 and 0.38 L/h as EPA's SIR evaluations publish it.

Measured on ``anxin.sim``'s worlds only: independent worlds are issue 12's."""
