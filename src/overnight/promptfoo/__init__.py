"""Reading a promptfoo config into an overnight project (``overnight init --from-promptfoo``).

``providers`` translates promptfoo's provider ids to litellm's model names and is light enough
for the assertions to use; ``read`` turns a promptfoo config into plain records, listing what
cannot be carried over; ``write`` lays those records out as an overnight project.
"""
