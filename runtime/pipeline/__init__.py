"""What happens to one image: decoding, person regions and crops, pose estimation, rendering."""
