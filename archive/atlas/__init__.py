"""The Atlas of Surveillance (EFF and the Reynolds School of Journalism): importing its export, and turning its links into sources."""
