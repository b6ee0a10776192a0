"""Pure dunning rules: the ladder, fees, late-payment interest, legal guards, hand-off
eligibility. No I/O and no clock: facts, settings, dated rates and a date in, decisions out."""
