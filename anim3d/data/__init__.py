"""The data engine: synthetic speech with exact phones, the motion teacher, augmentation and
the shard format. Kept light: import the submodules you need (``anim3d.data.shards``...).
"""
