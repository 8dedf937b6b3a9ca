"""Time: sightings of each page, its versions, the changes between them, phrase history and feeds."""
